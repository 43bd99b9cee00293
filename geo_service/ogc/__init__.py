"""OGC API – Features: providers over the layer catalogue, the documents, and their HTML views."""
