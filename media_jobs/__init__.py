"""Media workers: turn content requests into files (PDF reports, yearly MP4 videos).

``python -m media_jobs.worker`` consumes the content service's job queue; run as many as you
like (they share the queue). The renderers (:mod:`media_jobs.report`, :mod:`media_jobs.video`)
are pure: POC dicts in, a file out, with a progress callback.
"""

from .figures import Figures, summarize
from .report import render_report
from .video import render_video

__all__ = ["Figures", "render_report", "render_video", "summarize"]
