"""What the tests and the benches both build: scanned pages, a visitor without a browser, documents laid
out as a signatory's software lays them out. Shared here so that neither imports the other: a bench runs
without pytest, and a test helper can change without moving a bench's figures unnoticed."""
