"""Process entry points of the model server."""
