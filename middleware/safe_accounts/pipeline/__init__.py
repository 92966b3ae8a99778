"""The request pipeline: body, targets, decision, response."""
