"""Moderation: the queue of grooming alerts and child-endangerment reports, moderators'
actions, the transparency report, and retention.

    reports = ReportLog(engine)                     # the middleware's `report` actions
    app = moderation_app(engine, policy=..., is_moderator=..., moderator_id=...,
                         on_action=carry_out)     # mount it; carry_out(HostAction) in the app
    await Casework(engine).act(case_id, "suspend", by="mod-1")
    await Moderation(engine).take(item_id, "restrict", by="mod-1")
    report = await transparency_report(engine, Period.parse("2026-01-01", "2026-03-31"))
    await purge(engine, older_than_days=180)
"""

from .actions import Moderation
from .app import moderation_app, restrictions_of
from .casework import Casework
from .evidence import ExportKey
from .hooks import HostAction
from .model import ActionRecord, InvalidAction, ItemKind, ItemStatus, ModerationAction, UnknownItem
from .queue import ItemDetail, ModerationQueue, QueueItem
from .render import render_report
from .reports import ReportLog
from .retention import InvalidRetention, PurgeResult, purge
from .transparency import InvalidPeriod, Period, TransparencyReport, transparency_report

__all__ = [
    "ActionRecord",
    "Casework",
    "ExportKey",
    "HostAction",
    "InvalidAction",
    "InvalidPeriod",
    "InvalidRetention",
    "ItemDetail",
    "ItemKind",
    "ItemStatus",
    "Moderation",
    "ModerationAction",
    "ModerationQueue",
    "Period",
    "PurgeResult",
    "QueueItem",
    "ReportLog",
    "TransparencyReport",
    "UnknownItem",
    "moderation_app",
    "purge",
    "render_report",
    "restrictions_of",
    "transparency_report",
]
