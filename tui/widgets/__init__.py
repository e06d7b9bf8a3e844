"""The main screen's widgets, one module per pane. Each pane has its own CSS, its own
bindings and a small public API (`refresh_from`, `show`, `selected`...); the screen never
reaches into a pane's children."""
