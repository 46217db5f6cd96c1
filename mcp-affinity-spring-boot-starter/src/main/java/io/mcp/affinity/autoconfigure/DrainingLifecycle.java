package io.mcp.affinity.autoconfigure;

import java.time.Duration;

import io.mcp.affinity.core.InstanceIdentity;
import io.mcp.affinity.core.InstanceRegistry;
import io.mcp.affinity.web.SessionRouting;
import org.springframework.context.SmartLifecycle;
import reactor.core.publisher.Mono;

/**
 * The first thing to stop on shutdown, before Boot's graceful shutdown of the web server: this instance stops
 * claiming new sessions and marks itself draining in the registry, while in-flight requests and streams finish.
 * ({@link InstanceHeartbeatLifecycle} then releases its sessions and deregisters, once the web server has stopped.)
 */
final class DrainingLifecycle implements SmartLifecycle {

	private final SessionRouting routing;

	private final InstanceRegistry registry;

	private final InstanceIdentity self;

	private volatile boolean running;

	DrainingLifecycle(SessionRouting routing, InstanceRegistry registry, InstanceIdentity self) {
		this.routing = routing;
		this.registry = registry;
		this.self = self;
	}

	@Override
	public void start() {
		this.running = true;
	}

	@Override
	public void stop() {
		this.running = false;
		this.routing.startDraining();
		this.registry.markDraining(this.self).onErrorResume((ex) -> Mono.empty()).block(Duration.ofSeconds(2));
	}

	@Override
	public boolean isRunning() {
		return this.running;
	}

	// Stops before everything else, the web server's graceful shutdown included.
	@Override
	public int getPhase() {
		return SmartLifecycle.DEFAULT_PHASE;
	}

}
