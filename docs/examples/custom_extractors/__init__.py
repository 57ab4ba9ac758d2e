"""Custom extractors of the spec's examples (`examples.custom_extractors.*`)."""
