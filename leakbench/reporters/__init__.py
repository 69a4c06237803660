"""One module per output: the plot, the terminal, markdown and HTML pages."""
