"""Reminders: when they are due (``timing``), the sweep that creates one row per
(event, channel, lead time) and queues a send (``service``), the send that claims a row
and delivers it exactly once (``send``), the message bodies (``messages``), SMS backends
(``sms``) and the nurses' morning digest (``digest``). Celery tasks live in
``scheduler.reminders.tasks`` and only call these functions with ids.
"""
