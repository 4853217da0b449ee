"""One writer per legacy system of the sample estate."""
