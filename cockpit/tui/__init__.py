"""The live cockpit (Textual). Only ``cockpit.cli`` imports this package; nothing below it may."""
