"""Provisioners: where engine processes run."""
