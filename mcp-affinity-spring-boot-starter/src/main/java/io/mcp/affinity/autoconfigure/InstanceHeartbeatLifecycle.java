package io.mcp.affinity.autoconfigure;

import java.time.Duration;
import java.util.function.Supplier;

import io.mcp.affinity.core.InstanceHeartbeat;
import org.springframework.context.SmartLifecycle;
import reactor.core.publisher.Mono;

/**
 * Runs the {@link InstanceHeartbeat} while the application runs. It registers before the web server starts serving.
 * On shutdown it waits for the web server to stop (Boot's graceful shutdown lets in-flight requests and streams
 * finish first), then releases every session this instance owns and deregisters, so other instances answer 404 for
 * them at once instead of timing out on this one.
 */
public final class InstanceHeartbeatLifecycle implements SmartLifecycle {

	/** Before the web server starts; after it stops (it stops at DEFAULT_PHASE - 2048). */
	static final int PHASE = SmartLifecycle.DEFAULT_PHASE - 4096;

	private static final Duration SHUTDOWN_TIMEOUT = Duration.ofSeconds(10);

	private final InstanceHeartbeat heartbeat;

	private final Duration firstBeatTimeout;

	private final Supplier<Mono<?>> onShutdown;

	private volatile boolean running;

	InstanceHeartbeatLifecycle(InstanceHeartbeat heartbeat, Duration firstBeatTimeout, Supplier<Mono<?>> onShutdown) {
		this.heartbeat = heartbeat;
		this.firstBeatTimeout = firstBeatTimeout;
		this.onShutdown = onShutdown;
	}

	@Override
	public void start() {
		this.heartbeat.start(this.firstBeatTimeout);
		this.running = true;
	}

	@Override
	public void stop() {
		try {
			this.onShutdown.get().timeout(SHUTDOWN_TIMEOUT, Mono.empty()).onErrorResume((ex) -> Mono.empty()).block();
		}
		finally {
			this.heartbeat.close();
			this.running = false;
		}
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
