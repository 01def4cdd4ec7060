// The example host page's script (static/embed-example.html): embeds the meeting whose link is
// typed in, wires the buttons to the API and lists every event the meeting reports.
"use strict";

document.getElementById("start").addEventListener("submit", (event) => {
  event.preventDefault();
  const meeting = Veilig.embed(document.getElementById("meeting"), {
    link: document.getElementById("link").value,
    name: document.getElementById("name").value,
    skipLobby: false,
  });
  document.getElementById("start").hidden = true;
  document.getElementById("controls").hidden = false;
  const log = document.getElementById("events");
  meeting.on("*", (message) => {
    const item = document.createElement("li");
    item.textContent = JSON.stringify(message);
    log.appendChild(item);
  });
  const buttons = {
    mute: () => meeting.setMicrophone(false),
    unmute: () => meeting.setMicrophone(true),
    "camera-off": () => meeting.setCamera(false),
    "camera-on": () => meeting.setCamera(true),
    share: () => meeting.startScreenShare(),
    leave: () => meeting.leave(),
  };
  for (const [id, action] of Object.entries(buttons)) {
    document.getElementById(id).addEventListener("click", action);
  }
});
