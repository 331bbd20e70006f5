"""Learning from labelled data: the dataset format, importers, profiling, training and
offline evaluation. Nothing here runs on the router's request path; the router only
loads the artefacts this package writes."""
