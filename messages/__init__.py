"""What travels through Temporal: workflow inputs, results and messages (plain
values only), and the search attributes workflows set."""
