"""The HTTP API: FastAPI on uvicorn, in the controller's own process.

``app.create_app`` builds the application around a :class:`~.facade.Facade`;
``server.ApiServer`` runs it on a thread beside whatever drives the core.
"""
