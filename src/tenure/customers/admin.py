from django.contrib import admin

from tenure.customers.models import ContactPerson, Customer, Identity, Tag


class IdentityInline(admin.TabularInline):
    model = Identity
    extra = 0


class ContactInline(admin.TabularInline):
    model = ContactPerson
    extra = 0


@admin.register(Customer)
class CustomerAdmin(admin.ModelAdmin):
    list_display = ("name", "kind", "lifecycle", "assigned_rep", "last_activity_at")
    list_filter = ("lifecycle", "kind", "tags")
    search_fields = ("name", "external_ref", "identities__value")
    raw_id_fields = ("merged_into",)
    inlines = [IdentityInline, ContactInline]


admin.site.register(Tag)
