@kubectl shark __complete %*
