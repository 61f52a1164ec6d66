"""Catalogs (ar, fr, en), GSM-7/UCS-2 segments, subscribers and campaigns, and the headers of every page Dalil
serves (pages.py: the console and the CSO desk, which imports nothing from gateway/)."""
