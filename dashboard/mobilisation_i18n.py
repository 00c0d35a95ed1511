"""Strings of the mobilisation UI (the field page's order card, the console's not-on-post list)."""

from __future__ import annotations

from dashboard.i18n import register

register({
    "field.order.title": ("战时命令", "Wartime order"),
    "field.order.installed": (
        "{person}：您是本小网格临时党支部书记", "{person}: you are this small grid's temporary secretary"),
    "field.order.acting": ("{person}：您是本小网格代理书记", "{person}: you are this small grid's acting secretary"),
    "field.order.above": ("上级指挥：", "Commanded by: "),
    "field.order.state.installed": ("已任命 · 请尽快到岗", "Installed · go to your grid now"),
    "field.order.state.notified": ("已通知 · 请尽快到岗", "Notified · go to your grid now"),
    "field.order.state.acknowledged": (
        "已确认 · 到达网格后请点下方按钮", "Acknowledged · press the button once in your grid"),
    "field.order.state.queued": (
        "到岗确认已保存在手机上，联网后自动发送", "On-post confirmation saved on this phone; sent when online"),
    "field.order.state.on_post": ("已到岗 · 指挥中心已收到", "On post · the command centre has it"),
    "field.order.button": ("我已到岗", "I am on post"),
    "field.order.opened": ("已查看战时命令", "Order opened"),
    "field.order.confirmed": ("到岗确认", "On-post confirmation"),
    "console.mob.title": ("未到岗书记", "Secretaries not on post"),
    "console.mob.summary": (
        "已到岗 {on_post} / {installed}，已确认 {acknowledged}，已通知 {notified}，空缺 {vacancies}",
        "On post {on_post} / {installed}, acknowledged {acknowledged}, notified {notified}, vacancies {vacancies}",
    ),
    "console.mob.minutes": (
        "到岗用时 50% {m50} · 90% {m90} · 100% {m100}", "Time to 50% {m50} · 90% {m90} · 100% {m100}"),
    "console.mob.renotify": ("再次通知", "Re-notify"),
    "console.mob.renotified": ("已再次通知 {grid}", "{grid} notified again"),
    "console.mob.none": ("书记全部到岗", "Every secretary is on post"),
    "console.mob.failed": ("{n} 条通知发送失败", "{n} notification(s) failed"),
    "notification_failed": ("通知发送失败", "Notification failed"),
    "not_on_post": ("书记未到岗", "Secretary not on post"),
    "installed": ("已任命", "Installed"),
    "notified": ("已通知", "Notified"),
    "acknowledged": ("已确认", "Acknowledged"),
    "on_post": ("已到岗", "On post"),
})
