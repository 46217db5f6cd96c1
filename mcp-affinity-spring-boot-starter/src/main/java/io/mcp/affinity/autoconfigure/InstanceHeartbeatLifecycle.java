package io.mcp.affinity.autoconfigure;

import java.time.Duration;

import io.mcp.affinity.core.InstanceHeartbeat;
import org.springframework.context.SmartLifecycle;

/**
 * Runs the {@link InstanceHeartbeat} while the application runs. It registers before the web server starts serving,
 * and deregisters only after the web server has stopped, so in-flight forwarded requests still find this instance
 * live.
 */
public final class InstanceHeartbeatLifecycle implements SmartLifecycle {

	/** Before the web server starts; after it stops (it stops at DEFAULT_PHASE - 2048). */
	static final int PHASE = SmartLifecycle.DEFAULT_PHASE - 4096;

	private final InstanceHeartbeat heartbeat;

	private final Duration firstBeatTimeout;

	private volatile boolean running;

	InstanceHeartbeatLifecycle(InstanceHeartbeat heartbeat, Duration firstBeatTimeout) {
		this.heartbeat = heartbeat;
		this.firstBeatTimeout = firstBeatTimeout;
	}

	@Override
	public void start() {
		this.heartbeat.start(this.firstBeatTimeout);
		this.running = true;
	}

	@Override
	public void stop() {
		this.heartbeat.close();
		this.running = false;
	}

	@Override
	public boolean isRunning() {
		return this.running;
	}

	/** Whether the registry answered the last heartbeat. */
	public boolean isRegistryReachable() {
		return this.heartbeat.isHealthy();
	}

	@Override
	public int getPhase() {
		return PHASE;
	}

}
