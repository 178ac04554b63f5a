// Suifang app entry: progressive enhancement only; every page works without it.
