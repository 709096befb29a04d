"""The web door: pages a person opens in a browser (the approval page)."""
