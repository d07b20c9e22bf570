"""Form widgets and error lists for the console that write their HTML in Python.

Django draws every widget, every `<option>` and every error list (empty ones too) by rendering a
template, which was about a fifth of the CPU time of a conversation page with its eight widgets. These
write the same markup as Django's templates (`django/forms/widgets/*.html`,
`django/forms/errors/list/ul.html`), attribute for attribute, so the pages and the browser see no
difference; the forms, their field names and their validation are Django's.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.forms.renderers import BaseRenderer
from django.forms.utils import ErrorList
from django.utils.html import escape, format_html
from django.utils.safestring import SafeString, mark_safe


def attributes(attrs: dict[str, Any]) -> SafeString:
    """Attributes as `django/forms/widgets/attrs.html` writes them: True bare, False left out, in order."""
    return mark_safe(  # noqa: S308 - every name and value is escaped here
        "".join(
            f" {escape(name)}" if value is True else format_html(' {}="{}"', name, value)
            for name, value in attrs.items()
            if value is not False
        )
    )


class QuickSelect(forms.Select):
    """A `<select>` without option groups (the console's choices have none)."""

    def render(
        self, name: str, value: Any, attrs: dict[str, Any] | None = None, renderer: BaseRenderer | None = None
    ) -> SafeString:
        chosen = self.format_value(value)
        options: list[str] = []
        has_selected = False
        for option_value, label in self.choices:
            text = "" if option_value is None else str(option_value)
            # Like Django's optgroups(): only the first option with the value is selected.
            selected = not has_selected and text in chosen
            has_selected |= selected
            options.append(
                format_html(
                    '\n  <option value="{}"{}>{}</option>\n',
                    text,
                    " selected" if selected else "",  # nothing in it to escape
                    label,
                )
            )
        return format_html(
            '<select name="{}"{}>{}\n</select>',
            name,
            attributes(self.build_attrs(self.attrs, attrs)),
            mark_safe("".join(options)),  # noqa: S308 - each option was built by format_html
        )


class QuickTextarea(forms.Textarea):
    def render(
        self, name: str, value: Any, attrs: dict[str, Any] | None = None, renderer: BaseRenderer | None = None
    ) -> SafeString:
        text = self.format_value(value)
        return format_html(
            '<textarea name="{}"{}>\n{}</textarea>',
            name,
            attributes(self.build_attrs(self.attrs, attrs)),
            text or "",
        )


class QuickNumberInput(forms.NumberInput):
    def render(
        self, name: str, value: Any, attrs: dict[str, Any] | None = None, renderer: BaseRenderer | None = None
    ) -> SafeString:
        text = self.format_value(value)
        shown = "" if text is None else format_html(' value="{}"', text)
        return format_html(
            '<input type="{}" name="{}"{}{}>',
            self.input_type,
            name,
            shown,
            attributes(self.build_attrs(self.attrs, attrs)),
        )


class QuietErrorList(ErrorList):
    """An error list that writes nothing for no errors without rendering its template to find that out."""

    def render(
        self,
        template_name: str | None = None,
        context: dict[str, Any] | None = None,
        renderer: BaseRenderer | type[BaseRenderer] | None = None,
    ) -> SafeString:
        if not self.data:
            return SafeString()
        return super().render(template_name, context, renderer)

    __str__ = render
    __html__ = render


class ConsoleForm(forms.Form):
    """A form whose empty error lists cost nothing to draw."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("error_class", QuietErrorList)
        super().__init__(*args, **kwargs)
