"""An example derm-stress plugin: its entries are published in ``pyproject.toml``."""
