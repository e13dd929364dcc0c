"""Reports: an Analysis rendered as a table (rich), JSON, CSV or Markdown. No arithmetic here."""
