from sandbox.server import serve

__all__ = ["serve"]
