package io.mcp.affinity.actuate;

import java.util.function.BooleanSupplier;
import java.util.function.LongSupplier;
import java.util.function.ToDoubleFunction;

import io.mcp.affinity.core.TwoTierOwnershipStore;
import io.mcp.affinity.core.TwoTierOwnershipStore.Statistics;
import io.micrometer.core.instrument.FunctionCounter;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.binder.MeterBinder;

/**
 * Meters of the two-tier ownership store, read from its counters at scrape time: look-ups by tier and result,
 * sessions owned here (in the store, and in session-id ownership by their id), store errors and time spent degraded.
 */
public final class OwnershipStoreMetrics implements MeterBinder {

	private final TwoTierOwnershipStore store;

	private final BooleanSupplier registryReachable;

	private final LongSupplier routedSessions;

	/**
	 * Creates the binder.
	 * @param store the store
	 * @param registryReachable whether the instance registry (the same Redis) answered the last heartbeat
	 * @param routedSessions how many sessions created here are routed by their id, not by the store
	 */
	public OwnershipStoreMetrics(TwoTierOwnershipStore store, BooleanSupplier registryReachable,
			LongSupplier routedSessions) {
		this.store = store;
		this.registryReachable = registryReachable;
		this.routedSessions = routedSessions;
	}

	@Override
	public void bindTo(MeterRegistry registry) {
		lookups(registry, "l1", "hit", Statistics::l1Hits);
		lookups(registry, "l2", "hit", Statistics::l2Hits);
		lookups(registry, "l2", "miss", Statistics::l2Misses);
		lookups(registry, "l2", "error", Statistics::l2LookupErrors);
		FunctionCounter.builder("mcp.affinity.store.errors", this.store, (s) -> s.statistics().l2Errors())
			.description("Redis calls that failed, timed out or were skipped while degraded")
			.register(registry);
		FunctionCounter
			.builder("mcp.affinity.store.degraded.time", this.store,
					(s) -> s.statistics().degradedTime().toNanos() / 1e9)
			.description("Total time the distributed store was unavailable")
			.baseUnit("seconds")
			.register(registry);
		Gauge.builder("mcp.affinity.store.degraded", this, (m) -> m.isDegraded() ? 1 : 0)
			.description("1 while the distributed store is unavailable and sessions are served from memory")
			.register(registry);
		Gauge.builder("mcp.affinity.sessions.owned", this.store, TwoTierOwnershipStore::localSessionCount)
			.description("Sessions owned by this instance")
			.tag("ownership", "store")
			.register(registry);
		Gauge.builder("mcp.affinity.sessions.owned", this.routedSessions, LongSupplier::getAsLong)
			.description("Sessions owned by this instance")
			.tag("ownership", "session-id")
			.register(registry);
	}

	boolean isDegraded() {
		return this.store.isDegraded() || !this.registryReachable.getAsBoolean();
	}

	private void lookups(MeterRegistry registry, String tier, String result, ToDoubleFunction<Statistics> count) {
		FunctionCounter.builder("mcp.affinity.store.lookups", this.store, (s) -> count.applyAsDouble(s.statistics()))
			.description("Session owner look-ups by tier and result")
			.tag("tier", tier)
			.tag("result", result)
			.register(registry);
	}

}
