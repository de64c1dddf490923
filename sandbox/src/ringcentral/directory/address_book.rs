//! One extension's personal address book: contacts (tombstones kept for ISync), the
//! change sequence sync tokens name, and open sync page cursors.

use std::collections::BTreeMap;

use super::ContactFields;

/// One personal contact, alive or deleted (a tombstone kept for ISync).
#[derive(Debug, Clone)]
pub struct Contact {
    pub id: u64,
    pub fields: ContactFields,
    pub deleted: bool,
    /// The book's change sequence number of this contact's last change.
    pub seq: u64,
    /// When it last changed. Kept for inspection only: `PersonalContactResource` has no
    /// such field, so it is never rendered.
    pub last_modified: String,
}

/// One extension's personal address book.
#[derive(Debug, Default)]
pub struct AddressBook {
    /// All contacts by id, tombstones included (they carry `deleted`).
    pub contacts: BTreeMap<u64, Contact>,
    /// Sequence number of the latest change; a sync token names one of these.
    pub seq: u64,
    /// Number of alive contacts.
    pub alive: usize,
    /// Bumped by `POST /sandbox/extensions/{extId}/address-book-sync/reset`: older
    /// sync tokens are refused, as after RingCentral resets a sync.
    pub resets: u32,
    /// Open sync page cursors by `pageId`.
    pub cursors: BTreeMap<u64, SyncCursor>,
    pub next_cursor: u64,
}

/// Where the next page of a paged address-book sync starts.
#[derive(Debug, Clone, Copy)]
pub struct SyncCursor {
    pub full: bool,
    /// FSync: the last contact id returned; ISync: the last change sequence returned.
    pub after: u64,
    /// FSync: the book's sequence when the sync started (the token the sync hands out).
    pub token_seq: u64,
}

/// Open cursors kept per book; older ones are dropped (their `pageId` then gets a 400).
const MAX_CURSORS: usize = 1000;

impl AddressBook {
    /// Registers a cursor and returns its `pageId`.
    pub fn open_cursor(&mut self, cursor: SyncCursor) -> u64 {
        self.next_cursor += 1;
        self.cursors.insert(self.next_cursor, cursor);
        while self.cursors.len() > MAX_CURSORS {
            self.cursors.pop_first();
        }
        self.next_cursor
    }
}

impl AddressBook {
    /// Alive contacts in id order.
    pub fn alive(&self) -> impl Iterator<Item = &Contact> {
        self.contacts.values().filter(|c| !c.deleted)
    }

    pub fn get_alive(&self, id: u64) -> Option<&Contact> {
        self.contacts.get(&id).filter(|c| !c.deleted)
    }

    /// Adds a new contact as the next change.
    pub fn insert(&mut self, id: u64, fields: ContactFields, now: String) -> &Contact {
        self.seq += 1;
        self.alive += 1;
        let contact = Contact { id, fields, deleted: false, seq: self.seq, last_modified: now };
        self.contacts.insert(id, contact);
        &self.contacts[&id]
    }

    /// Replaces an alive contact's fields as the next change.
    pub fn update(&mut self, id: u64, fields: ContactFields, now: String) -> Option<&Contact> {
        let contact = self.contacts.get_mut(&id).filter(|c| !c.deleted)?;
        self.seq += 1;
        contact.fields = fields;
        contact.seq = self.seq;
        contact.last_modified = now;
        Some(contact)
    }

    /// Turns an alive contact into a tombstone as the next change.
    pub fn delete(&mut self, id: u64, now: String) -> Option<&Contact> {
        let contact = self.contacts.get_mut(&id).filter(|c| !c.deleted)?;
        self.seq += 1;
        self.alive -= 1;
        contact.deleted = true;
        contact.seq = self.seq;
        contact.last_modified = now;
        Some(contact)
    }
}
