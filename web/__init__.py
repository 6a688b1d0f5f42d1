"""The pages people use in a browser: thin routes over the domains' services, templates,
static files (all served from here) and the message catalogues (Vietnamese first)."""
