"""The web desk (`csac serve`): a public deposit page, and the regional teams' desk.

A thin layer over the same library the CLI calls: a deposit made on the page is dropped into the
inbox exactly as a clerk's drop is, the watcher takes it in, and the page reads its verdict from
the journal. No second pipeline.
"""
