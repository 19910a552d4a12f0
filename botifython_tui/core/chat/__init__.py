"""The assistant's chat in core: one turn (`turn.ChatTurn`), the order of replies
(`scheduler.ReplyScheduler`) and the typed events both yield (`events`). No Textual here."""
