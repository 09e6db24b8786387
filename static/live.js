// The /api/ws connection: reconnects by itself and shows its state in the indicator.
// Emits one DOM event per server frame type ("message.new", ...) and "reconnected" after an outage.

const STATES = {
  connecting: "Connecting…",
  live: "Live",
  reconnecting: "Reconnecting…",
};
const MAX_BACKOFF_MS = 5000;
// The server pings every 20 s; a connection silent for longer than this is dead even if not closed.
const SILENCE_MS = 50000;

export class Live extends EventTarget {
  constructor(indicator) {
    super();
    this.indicator = indicator;
    this.query = "";
    this.mailbox = null;
    this.backoff = 250;
    this.socket = null;
    this.everOpened = false;
    this.watchdog = null;
  }

  start() {
    this.connect();
    document.addEventListener("visibilitychange", () => {
      if (document.visibilityState === "visible" && !this.socket) this.connect();
    });
  }

  setState(state, detail = "") {
    this.indicator.dataset.state = state;
    this.indicator.querySelector(".live-text").textContent = STATES[state];
    this.indicator.title = detail || STATES[state];
  }

  connect() {
    clearTimeout(this.retry);
    const socket = new WebSocket(new URL("api/ws", location.href).href.replace(/^http/, "ws"));
    this.socket = socket;
    socket.addEventListener("open", () => {
      this.backoff = 250;
      this.setState("live", "Connected: new mail shows up as it arrives");
      this.sendSubscribe();
      if (this.everOpened) this.dispatchEvent(new Event("reconnected"));
      this.everOpened = true;
      this.feedWatchdog();
    });
    socket.addEventListener("message", (event) => {
      this.feedWatchdog();
      let frame;
      try {
        frame = JSON.parse(event.data);
      } catch {
        return;
      }
      this.dispatchEvent(new CustomEvent(frame.type, { detail: frame.data }));
    });
    socket.addEventListener("close", (event) => {
      if (this.socket !== socket) return;
      this.socket = null;
      clearTimeout(this.watchdog);
      const why = event.reason ? `Disconnected: ${event.reason}` : "Disconnected from the server";
      this.setState("reconnecting", why);
      this.retry = setTimeout(() => this.connect(), this.backoff);
      this.backoff = Math.min(this.backoff * 2, MAX_BACKOFF_MS);
    });
  }

  feedWatchdog() {
    clearTimeout(this.watchdog);
    this.watchdog = setTimeout(() => this.socket?.close(), SILENCE_MS);
  }

  // New mail matching the query, and new and changed mail of the mailbox (null: every mailbox).
  subscribe(query, mailbox) {
    this.query = query;
    this.mailbox = mailbox;
    this.sendSubscribe();
  }

  sendSubscribe() {
    if (this.socket?.readyState === WebSocket.OPEN) {
      this.socket.send(JSON.stringify({ subscribe: this.query, mailbox: this.mailbox }));
    }
  }
}
