/*
 * Veilig embed helper: puts a Veilig meeting in your page and lets your page drive it.
 * No dependencies; load it as a classic script from the relay that runs the meeting:
 *
 *   <script src="https://meet.example/static/embed.js"></script>
 *   <script>
 *     const meeting = Veilig.embed(document.getElementById("meeting"), {
 *       link: "https://meet.example/weekly-sync#AAECAwQFBgcICQoLDA0ODw",
 *       name: "Anna", skipLobby: true,
 *     });
 *     meeting.on("participantJoined", (e) => console.log("joined:", e.participant));
 *     await meeting.joined;
 *     await meeting.setMicrophone(false);
 *   </script>
 *
 * The relay must list your page's origin in --frame-ancestors, or the browser shows no meeting.
 * The meeting obeys only this page (its origin, through the iframe's parent window) and
 * reports only to it. Names, chat, media and the link's secret never come back through this
 * API; participants are opaque ids. Messages: README, "Embedding".
 */
(function (global) {
  "use strict";

  var VERSION = 1;
  var ALLOW = "camera; microphone; display-capture; fullscreen";

  /** The link's fragment options for `options` (each only if asked for). */
  function fragmentOptions(options) {
    var parts = ["embed=" + encodeURIComponent(global.location.origin)];
    if (options.name) parts.push("name=" + encodeURIComponent(options.name));
    if (options.microphone === false) parts.push("mic=off");
    if (options.camera === false) parts.push("camera=off");
    if (options.skipLobby) parts.push("lobby=skip");
    if (options.lang === "nl" || options.lang === "en") parts.push("lang=" + options.lang);
    if (options.chat === false) parts.push("chat=off");
    if (options.toolbar === "compact") parts.push("toolbar=compact");
    return parts.join("&");
  }

  function Meeting(container, options) {
    if (!options || typeof options.link !== "string" || options.link.indexOf("#") < 0) {
      throw new TypeError("Veilig.embed: options.link must be a meeting link with its #secret");
    }
    var url = new URL(options.link, global.location.href);
    var self = this;
    this.origin = url.origin;
    this._handlers = {};
    this._destroyed = false;

    this.iframe = document.createElement("iframe");
    this.iframe.allow = ALLOW;
    this.iframe.setAttribute("allowfullscreen", "");
    this.iframe.referrerPolicy = "no-referrer";
    this.iframe.title = options.title || "Veilig";
    this.iframe.style.border = "0";
    this.iframe.style.width = "100%";
    this.iframe.style.height = "100%";
    this.iframe.src = url.href + "&" + fragmentOptions(options);

    this.ready = new Promise(function (resolve, reject) {
      self._readyNow = resolve;
      self._failNow = reject;
    });
    this.joined = new Promise(function (resolve) {
      self._joinedNow = resolve;
    });
    this.left = new Promise(function (resolve) {
      self._leftNow = resolve;
    });
    // Nobody has to wait on these; an embed that never loads must not be an unhandled error.
    this.ready.catch(function () {});

    this._listener = function (event) {
      // Only our own iframe, from the meeting's origin, in this API's version.
      if (event.source !== self.iframe.contentWindow || event.origin !== self.origin) return;
      var data = event.data;
      if (!data || data.veilig !== VERSION || typeof data.type !== "string") return;
      if (data.type === "ready") self._readyNow();
      if (data.type === "joined") self._joinedNow();
      if (data.type === "left") self._leftNow();
      self._emit(data.type, data);
      self._emit("*", data);
    };
    global.addEventListener("message", this._listener);
    container.appendChild(this.iframe);
  }

  Meeting.prototype.on = function (type, handler) {
    (this._handlers[type] = this._handlers[type] || []).push(handler);
    return this;
  };

  Meeting.prototype.off = function (type, handler) {
    var list = this._handlers[type] || [];
    var at = list.indexOf(handler);
    if (at >= 0) list.splice(at, 1);
    return this;
  };

  Meeting.prototype._emit = function (type, data) {
    (this._handlers[type] || []).slice().forEach(function (handler) {
      try {
        handler(data);
      } catch (error) {
        setTimeout(function () {
          throw error;
        });
      }
    });
  };

  /**
   * Sends a command once the meeting is ready; resolves when it is sent. `delegate` passes
   * this page's user activation along (screen sharing needs one, where browsers allow it).
   */
  Meeting.prototype._send = function (command, delegate) {
    var self = this;
    command.veilig = VERSION;
    return this.ready.then(function () {
      if (self._destroyed) throw new Error("Veilig: the meeting was removed");
      var target = self.iframe.contentWindow;
      if (delegate) {
        try {
          target.postMessage(command, { targetOrigin: self.origin, delegate: delegate });
          return;
        } catch (notActive) {
          // No user activation to pass on (or no delegation here): send it plainly.
        }
      }
      target.postMessage(command, self.origin);
    });
  };

  Meeting.prototype.setMicrophone = function (on) {
    return this._send({ type: "setMicrophone", on: !!on });
  };
  Meeting.prototype.setCamera = function (on) {
    return this._send({ type: "setCamera", on: !!on });
  };
  Meeting.prototype.startScreenShare = function () {
    return this._send({ type: "startScreenShare" }, "display-capture");
  };
  Meeting.prototype.stopScreenShare = function () {
    return this._send({ type: "stopScreenShare" });
  };
  Meeting.prototype.leave = function () {
    return this._send({ type: "leave" });
  };
  Meeting.prototype.setDisplayName = function (name) {
    return this._send({ type: "setDisplayName", name: String(name) });
  };

  /** Removes the iframe (which ends the call) and stops listening. */
  Meeting.prototype.destroy = function () {
    this._destroyed = true;
    global.removeEventListener("message", this._listener);
    if (this.iframe.parentNode) this.iframe.parentNode.removeChild(this.iframe);
    this._failNow(new Error("Veilig: the meeting was removed"));
  };

  global.Veilig = {
    version: VERSION,
    embed: function (container, options) {
      return new Meeting(container, options);
    },
  };
})(window);
