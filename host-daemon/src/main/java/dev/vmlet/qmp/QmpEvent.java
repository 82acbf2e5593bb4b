package dev.vmlet.qmp;

import com.google.gson.JsonObject;

/** An asynchronous QMP event such as SHUTDOWN, STOP, RESUME or RESET. */
public record QmpEvent(String name, JsonObject data) {}
