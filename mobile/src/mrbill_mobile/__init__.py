"""Mr Bill's native mobile app (BeeWare Toga): POCs, reports and videos, live dojos.

`mrbill_mobile.api` is the UI-free API client; `mrbill_mobile.logic` the screens' logic;
`mrbill_mobile.screens` the Toga widgets.
"""

__all__: list[str] = []
