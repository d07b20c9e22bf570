"""The journeys every install starts with, seeded after migrate; editable, never overwritten."""

from __future__ import annotations

from typing import Any

BUILTINS_YAML = r"""
process_types:
  - key: order
    name: Order
    stages:
      - {key: received, label: Order received, days: 0}
      - {key: scheduled, label: Work scheduled, days: 2}
      - {key: done, label: Work done, days: 7}
      - {key: invoiced, label: Invoice sent, days: 8}
  - key: mortgage
    name: Mortgage application
    stages:
      - {key: documents, label: Documents needed, days: 5}
      - {key: underwriting, label: Underwriting, days: 10}
      - {key: approval, label: Approval, days: 3}
      - {key: closing, label: Closing, days: 14}

templates:
  - key: order-ack
    language: en
    subject: "We have your order{% if order.order %} {{ order.order }}{% endif %}"
    body: |
      Hello {{ customer.first_name }},

      Thank you, we have your order{% if order.order %} {{ order.order }}{% endif %}. Here is what happens next:
      {% for step in steps_ahead %}
      - {{ step.label }}{% if step.days %}: within {{ step.days }} day{{ step.days|pluralize }}{% endif %}{% endfor %}

      We will write at each step. Just reply if anything changes.
  - key: mortgage-status
    language: en
    subject: "Your mortgage application {{ event.ref }}: {{ event.label }}"
    body: |
      Hello {{ customer.first_name }},

      Your application {{ event.ref }} is now at: {{ event.label }}.
      {% if event.stage == "documents" %}We need a few documents from you; your adviser will be in touch today.
      {% endif %}{% if event.final %}This is the last stage. Congratulations!{% else %}Still ahead:{% for step in steps_ahead %}
      - {{ step.label }} (about {{ step.days }} days){% endfor %}{% endif %}

      You do not need to call to ask: we will tell you at every step.
  - key: payment-due
    language: en
    subject: "Payment {{ fact.ref }} is due on {{ fact.at|slice:':10' }}"
    body: |
      Hello {{ customer.first_name }},

      A friendly reminder: payment {{ fact.ref }} is due on {{ fact.at|slice:":10" }}.{% if fact.amount %} Amount: {{ fact.amount }}.{% endif %}
      If you have already paid, thank you, and please ignore this message.
  - key: payment-overdue
    language: en
    subject: "Payment {{ fact.ref }} is overdue"
    body: |
      Hello {{ customer.first_name }},

      We have not received payment {{ fact.ref }}, which was due on {{ fact.at|slice:":10" }}.
      If something is wrong, reply to this message and we will sort it out together.
  - key: renewal-reminder
    language: en
    subject: "Time to renew {{ fact.ref }}"
    body: |
      Hello {{ customer.first_name }},

      {{ fact.ref }} is due for renewal on {{ fact.at|slice:":10" }}. Reply to renew, or if you would like to change anything.
  - key: appointment-reminder
    language: en
    subject: "See you tomorrow"
    body: |
      Hello {{ customer.first_name }},

      A reminder of your appointment on {{ fact.at|slice:":16" }}. Reply if you need to move it.
  - key: check-in
    language: en
    subject: "How did it go?"
    body: |
      Hello {{ customer.first_name }},

      We finished the work a few days ago. Is everything working as it should? Just reply if not.
  - key: stay-in-touch
    language: en
    subject: "Checking in"
    body: |
      Hello {{ customer.first_name }},

      It has been a while since we spoke. Is there anything we can help with?{% if customer.rep %}

      {{ customer.rep }}{% endif %}
  - key: anniversary
    language: en
    subject: "Thank you for a year with us"
    body: |
      Hello {{ customer.first_name }},

      A year ago today you became a customer. Thank you for your trust.
  - key: heads-up
    language: en
    subject: "{{ context.subject }}"
    body: |
      Hello {{ customer.first_name }},

      {{ context.message }}
  - key: win-back
    language: en
    subject: "We would like to get it right"
    body: |
      Hello {{ customer.first_name }},

      We have not seen you for a while and would like to know how we can do better. Reply and{% if customer.rep %} {{ customer.rep }}{% else %} we{% endif %} will get back to you personally.

journeys:
  - key: order-acknowledgement
    name: Order acknowledgement
    description: A written acknowledgement of every new order, with the steps ahead and their timeframes.
    purpose: transactional
    trigger: {event: order.placed}
    exit_on: [{kind: order.cancelled, match: order}]
    reentry: always
    holdout_percent: 0
    steps:
      - {id: acknowledge, type: send, template: order-ack}
  - key: mortgage-status
    name: Mortgage application status
    description: A status update at every stage change of a mortgage application.
    purpose: transactional
    trigger: {event: process.stage_changed}
    conditions: [{field: event.type, op: eq, value: mortgage}]
    reentry: always
    holdout_percent: 0
    steps:
      - {id: update, type: send, template: mortgage-status}
      - {id: needs-documents, type: branch, if: [{field: event.stage, op: eq, value: documents}], then: chase, else: end}
      - {id: chase, type: task, title: "Call about the missing documents", due: 1d}
  - key: payment-due-reminder
    name: Payment due reminder
    description: Three days before a payment is due.
    purpose: reminders
    trigger: {date: payment_due, offset_days: -3}
    exit_on: [{kind: payment.received, match: invoice}]
    reentry: always
    steps:
      - {id: remind, type: send, template: payment-due}
  - key: payment-overdue
    name: Overdue payment follow-up
    description: Three days after an unpaid due date, then a call if still unpaid after four more.
    purpose: reminders
    trigger: {date: payment_due, offset_days: 3}
    exit_on: [{kind: payment.received, match: invoice}]
    reentry: always
    steps:
      - {id: overdue, type: send, template: payment-overdue}
      - {id: grace, type: wait, duration: 4d}
      - {id: call, type: task, title: "Call about the overdue payment", due: 1d}
  - key: renewal-reminder
    name: Renewal / refill reminder
    description: A week before a renewal or refill is due.
    purpose: reminders
    trigger: {date: renewal_due, offset_days: -7}
    reentry: always
    steps:
      - {id: remind, type: send, template: renewal-reminder}
  - key: contract-renewal
    name: Contract renewal
    description: Thirty days before a contract ends.
    purpose: reminders
    trigger: {date: contract_end, offset_days: -30}
    exit_on: [{kind: contract.renewed}, {kind: plan.renewed}]
    reentry: always
    steps:
      - {id: remind, type: send, template: renewal-reminder}
  - key: appointment-reminder
    name: Appointment reminder
    description: The day before an appointment.
    purpose: reminders
    trigger: {date: appointment, offset_days: -1}
    exit_on: [{kind: appointment.cancelled, match: appointment}, {kind: job.cancelled, match: job}]
    reentry: always
    holdout_percent: 0
    steps:
      - {id: remind, type: send, template: appointment-reminder}
  - key: check-in
    name: Check-in after fulfilment
    description: Three days after a job is done, at ten in the morning in the customer's time zone.
    purpose: service_updates
    trigger: {event: job.completed}
    exit_on: [{kind: replied}]
    reentry: always
    steps:
      - {id: pause, type: wait, duration: 3d, until: "10:00"}
      - {id: ask, type: send, template: check-in}
  - key: stay-in-touch
    name: Stay in touch
    description: Ninety days without a two-way contact; a call a week later if there is no answer.
    purpose: stay_in_touch
    trigger: {date: last_two_way_contact, offset_days: 90}
    conditions: [{field: customer.lifecycle, op: in, value: [active, lapsed]}]
    exit_on: [{kind: replied}]
    reentry: after_finish
    steps:
      - {id: hello, type: send, template: stay-in-touch}
      - {id: pause, type: wait, duration: 7d}
      - {id: call, type: task, title: "Call them: no two-way contact for 97 days", due: 2d}
  - key: anniversary
    name: Thank-you on the anniversary
    description: A thank-you a year after someone became a customer.
    purpose: stay_in_touch
    trigger: {date: customer_since, offset_days: 365}
    conditions: [{field: customer.lifecycle, op: in, value: [active, lapsed]}]
    reentry: never
    steps:
      - {id: thanks, type: send, template: anniversary}
  - key: heads-up-rep-leaving
    name: "Heads-up: your account rep is leaving"
    description: Broadcast to a rep's customers; set the subject and message when you send it.
    purpose: service_updates
    trigger: {manual: true}
    reentry: always
    steps:
      - {id: tell, type: send, template: heads-up}
  - key: heads-up-website
    name: "Heads-up: website change"
    description: Broadcast to an audience about a website change.
    purpose: service_updates
    trigger: {manual: true}
    reentry: always
    steps:
      - {id: tell, type: send, template: heads-up}
  - key: heads-up-price
    name: "Heads-up: price change"
    description: Broadcast to an audience before a price change.
    purpose: service_updates
    trigger: {manual: true}
    reentry: always
    steps:
      - {id: tell, type: send, template: heads-up}
  - key: win-back
    name: Win-back
    description: >-
      When a customer lapses and their churn risk is high (20% or more) or not yet scored, a personal
      note, then a call from their rep five days later unless they answered.
    purpose: marketing
    trigger: {event: customer.lapsed}
    conditions: [{any: [{field: risk, op: missing}, {field: risk, op: gte, value: 0.2}]}]
    exit_on: [{kind: replied}]
    reentry: after_finish
    steps:
      - {id: note, type: send, template: win-back}
      - {id: pause, type: wait, duration: 5d}
      - {id: call, type: task, title: "Win-back call", due: 1d}
"""

# Reason codes (insights' next best actions) and the built-in journey that answers each.
JOURNEY_FOR_REASON = {
    "no_contact": "stay-in-touch",
    "lapsed": "win-back",
    "high_risk": "win-back",
    "late_payment": "payment-overdue",
    "unpaid": "payment-overdue",
    "renewal_due": "contract-renewal",
}


def seed_builtins(**_: Any) -> None:
    """post_migrate: create the built-ins that do not exist; leave edited ones as they are."""
    from django.db import connection

    from tenure.journeys.models import Journey
    from tenure.journeys.services import import_yaml

    if Journey._meta.db_table not in connection.introspection.table_names():
        return
    result = import_yaml(BUILTINS_YAML, replace=False)
    if result.created:
        Journey.objects.filter(
            key__in=[label.split(" ", 1)[1] for label in result.created if label.startswith("journey ")]
        ).update(builtin=True)
