"""The application: the HTTP app, the command line, the runner and the status report. It finds the parts
(connectors and consumers) only through their registries."""
