"""Local mode (``kubescribe run``): the runner that drives the core on this machine,
and the executor that runs each attempt as a child process."""
