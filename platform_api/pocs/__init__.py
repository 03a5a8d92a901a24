"""The POC service: POC CRUD, tags, frameworks, trash, bulk import/export, events."""
