"""``python -m derm_stress`` runs the command line."""

from derm_stress.cli import main

main()
