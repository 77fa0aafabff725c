"""Data a user can read and change instead of code: the dated price table, the model
catalogue, the Batch output expiry and the routing policy; what was read from Google's pages
cites the page and the date of the copy beside it."""
