"""derm-stress: stress-test multimodal dermatology models before patients meet them."""

__version__ = "0.1.0"
