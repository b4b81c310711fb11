// The guestbook page: lists messages from GET /api/messages (newest first, "older" pages through
// next_before) and posts new ones to POST /api/messages. Served from /assets under a CSP with
// script-src 'self' and connect-src 'self': no inline code, no other origins, and the DOM is
// built with textContent only (a message is never parsed as HTML).
'use strict';

(() => {
  const PAGE_SIZE = 20;
  const TEXT_MAX = 1000;

  const byId = (id) => document.getElementById(id);
  const form = byId('message-form');
  const author = byId('author');
  const text = byId('text');
  const textCount = byId('text-count');
  const submit = byId('submit');
  const formError = byId('form-error');
  const formStatus = byId('form-status');
  const list = byId('messages');
  const listError = byId('list-error');
  const empty = byId('empty');
  const older = byId('older');

  // Ids already shown: a page fetched after a post may repeat a message the post prepended.
  const shown = new Set();
  let nextBefore = null;

  // The API's messages are phrases ("author must not be empty"): shown as sentences.
  function asSentence(phrase) {
    const text = phrase.trim();
    if (text === '') {
      return text;
    }
    const capitalised = text[0].toUpperCase() + text.slice(1);
    return /[.!?]$/.test(capitalised) ? capitalised : `${capitalised}.`;
  }

  // One line for a failed API call, from the API's error shape
  // {"error":{"code","message","request_id"}}; 429 and 503 add their Retry-After.
  async function describeFailure(res) {
    let message = `The server answered ${res.status}.`;
    let requestId = null;
    try {
      const body = await res.json();
      if (body && body.error && typeof body.error.message === 'string') {
        message = asSentence(body.error.message);
        requestId = body.error.request_id || null;
      }
    } catch (_) {
      // Not JSON (e.g. a proxy's page): keep the status line.
    }
    if (res.status === 503 || res.status === 429) {
      const after = res.headers.get('Retry-After');
      message += after ? ` Try again in ${after}\u00a0s.` : ' Try again shortly.';
    }
    return { message, requestId };
  }

  function showError(el, failure) {
    el.replaceChildren(document.createTextNode(failure.message));
    if (failure.requestId) {
      const id = document.createElement('span');
      id.className = 'request-id';
      id.textContent = `Request id: ${failure.requestId}`;
      el.append(id);
    }
    el.hidden = false;
  }

  function hideError(el) {
    el.hidden = true;
    el.replaceChildren();
  }

  function render(message, isNew) {
    const item = document.createElement('li');
    item.className = isNew ? 'message new' : 'message';
    item.dataset.id = String(message.id);

    const meta = document.createElement('div');
    meta.className = 'message-meta';
    const who = document.createElement('span');
    who.className = 'message-author';
    who.textContent = message.author;
    const when = document.createElement('time');
    when.dateTime = message.created_at;
    when.title = message.created_at;
    const date = new Date(message.created_at);
    when.textContent = Number.isNaN(date.getTime())
      ? message.created_at
      : date.toLocaleString(undefined, { dateStyle: 'medium', timeStyle: 'short' });
    meta.append(who, when);

    const body = document.createElement('p');
    body.className = 'message-text';
    body.textContent = message.text;

    item.append(meta, body);
    return item;
  }

  function updateEmpty() {
    empty.hidden = list.children.length > 0;
  }

  async function loadPage(before) {
    const url = new URL('/api/messages', window.location.origin);
    url.searchParams.set('limit', String(PAGE_SIZE));
    if (before !== null) {
      url.searchParams.set('before', String(before));
    }
    list.setAttribute('aria-busy', 'true');
    older.disabled = true;
    try {
      const res = await fetch(url, { headers: { Accept: 'application/json' } });
      if (!res.ok) {
        showError(listError, await describeFailure(res));
        return;
      }
      const page = await res.json();
      for (const message of page.messages) {
        if (!shown.has(message.id)) {
          shown.add(message.id);
          list.append(render(message, false));
        }
      }
      nextBefore = page.next_before;
      older.hidden = nextBefore === null;
      hideError(listError);
      updateEmpty();
    } catch (_) {
      showError(listError, { message: 'Could not reach the server to load messages. Reload the page to try again.' });
    } finally {
      list.setAttribute('aria-busy', 'false');
      older.disabled = false;
    }
  }

  async function post(event) {
    event.preventDefault();
    hideError(formError);
    formStatus.textContent = 'Posting…';
    submit.disabled = true;
    try {
      const res = await fetch('/api/messages', {
        method: 'POST',
        headers: { 'Content-Type': 'application/json', Accept: 'application/json' },
        body: JSON.stringify({ author: author.value, text: text.value }),
      });
      if (res.status !== 201) {
        formStatus.textContent = '';
        showError(formError, await describeFailure(res));
        return;
      }
      const message = await res.json();
      if (!shown.has(message.id)) {
        shown.add(message.id);
        list.prepend(render(message, true));
      }
      updateEmpty();
      text.value = '';
      updateCount();
      formStatus.textContent = 'Your message was posted.';
    } catch (_) {
      formStatus.textContent = '';
      showError(formError, { message: 'Could not reach the server. Check your connection and try again.' });
    } finally {
      submit.disabled = false;
    }
  }

  function updateCount() {
    textCount.textContent = `${text.value.length} / ${TEXT_MAX}`;
  }

  form.addEventListener('submit', post);
  text.addEventListener('input', updateCount);
  older.addEventListener('click', () => {
    if (nextBefore !== null) {
      loadPage(nextBefore);
    }
  });
  updateCount();
  loadPage(null);
})();
