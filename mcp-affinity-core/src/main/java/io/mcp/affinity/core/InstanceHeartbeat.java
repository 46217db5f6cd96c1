package io.mcp.affinity.core;

import java.time.Duration;
import java.util.Objects;
import java.util.function.Consumer;
import java.util.function.Supplier;

import org.jspecify.annotations.Nullable;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import reactor.core.Disposable;
import reactor.core.publisher.Flux;
import reactor.core.publisher.Mono;
import reactor.core.scheduler.Schedulers;

/**
 * Keeps this instance live in the {@link InstanceRegistry}, and notices when the registry comes back after failing or
 * has lost this instance (a restarted Redis): then what this instance owns is published again. After each heartbeat,
 * the registry's in-memory view of the live instances is refreshed (see {@link InstanceRegistry#refreshLiveInstances}).
 * <p>
 * After a heartbeat that failed, the next ones come every retry interval rather than every interval until one is
 * answered: the first answer after an outage ends it (and publishes what was held here alone) within a retry interval
 * of the registry's return, not up to a whole interval later.
 */
public final class InstanceHeartbeat implements AutoCloseable {

	/** Default period between heartbeats; well under the registry's heartbeat time-to-live. */
	public static final Duration DEFAULT_INTERVAL = Duration.ofSeconds(5);

	/** Default period between heartbeats while the registry is failing (never more than the interval). */
	public static final Duration DEFAULT_RETRY_INTERVAL = Duration.ofSeconds(1);

	private static final Logger logger = LoggerFactory.getLogger(InstanceHeartbeat.class);

	private final InstanceRegistry registry;

	private final InstanceIdentity self;

	private final Duration interval;

	private final Supplier<Mono<?>> onRegistryRegained;

	private Duration retryInterval;

	// When the last heartbeat began (System.nanoTime()).
	private volatile long lastBeat;

	private Consumer<Throwable> onRegistryFailed = (ex) -> {
	};

	private Runnable onRegistryAnswered = () -> {
	};

	private volatile boolean failing;

	private volatile boolean registered;

	// While start() retries, failures are expected (a first connection) and not worth a warning each.
	private volatile boolean quiet;

	private @Nullable Disposable ticks;

	/**
	 * Creates a heartbeat.
	 * @param registry the registry
	 * @param self this instance
	 * @param interval period between heartbeats
	 * @param onRegistryRegained what to do when the registry answers again after failing, or had lost this instance
	 */
	public InstanceHeartbeat(InstanceRegistry registry, InstanceIdentity self, Duration interval,
			Supplier<Mono<?>> onRegistryRegained) {
		this.registry = Objects.requireNonNull(registry, "registry must not be null");
		this.self = Objects.requireNonNull(self, "self must not be null");
		this.interval = Objects.requireNonNull(interval, "interval must not be null");
		this.onRegistryRegained = Objects.requireNonNull(onRegistryRegained, "onRegistryRegained must not be null");
		this.retryInterval = min(DEFAULT_RETRY_INTERVAL, interval);
	}

	private static Duration min(Duration a, Duration b) {
		return (a.compareTo(b) <= 0) ? a : b;
	}

	/**
	 * Sets how soon a heartbeat follows one that failed; before {@link #start}.
	 * @param retryInterval period between heartbeats while the last one failed (at most the interval; by default
	 * {@link #DEFAULT_RETRY_INTERVAL})
	 */
	public void setRetryInterval(Duration retryInterval) {
		this.retryInterval = min(Objects.requireNonNull(retryInterval, "retryInterval must not be null"),
				this.interval);
	}

	/**
	 * Registers this instance now, then keeps renewing it in the background.
	 * @param timeout how long to keep trying the first registration (the first connection to a store can be slow);
	 * start-up goes on, degraded, if it never succeeds
	 */
	public synchronized void start(Duration timeout) {
		if (this.ticks != null) {
			return;
		}
		long deadline = System.nanoTime() + timeout.toNanos();
		this.quiet = true;
		do {
			beat().timeout(timeout, Mono.empty()).block();
		}
		while (this.failing && System.nanoTime() - deadline < 0 && pause());
		this.quiet = false;
		if (this.failing) {
			logger.warn("HeartbeatFailed: could not register this instance within {}; retrying every {}", timeout,
					this.retryInterval);
		}
		// A tick per retry interval; a heartbeat on those where one is due: every interval, or every tick while the
		// registry is failing.
		this.ticks = Flux.interval(this.retryInterval, this.retryInterval, Schedulers.parallel())
			.onBackpressureDrop()
			.concatMap((tick) -> isDue() ? beat() : Mono.empty(), 1)
			.subscribe();
	}

	private boolean isDue() {
		if (this.failing) {
			return true;
		}
		// On the last tick before the interval is over, never later: the heartbeat time-to-live counts on it.
		long sinceLast = System.nanoTime() - this.lastBeat;
		return sinceLast > this.interval.minus(this.retryInterval).toNanos();
	}

	/**
	 * Sends one heartbeat now.
	 * @return completion; never an error
	 */
	public Mono<Void> beat() {
		return Mono.defer(() -> {
			this.lastBeat = System.nanoTime();
			return this.registry.heartbeat(this.self);
		}).flatMap((lost) -> {
			// The very first registration has nothing to republish; later, a lost registration means lost data.
			boolean regained = (lost && this.registered) || this.failing;
			this.registered = true;
			this.failing = false;
			if (regained) {
				return this.onRegistryRegained.get().then();
			}
			this.onRegistryAnswered.run();
			return Mono.<Void>empty();
		}).then(Mono.defer(this.registry::refreshLiveInstances)).onErrorResume((ex) -> {
			this.onRegistryFailed.accept(ex);
			if (!this.failing && !this.quiet) {
				logger.warn("HeartbeatFailed: the registry did not answer ({}); retrying every {}", ex.getMessage(),
						this.retryInterval);
			}
			this.failing = true;
			return Mono.empty();
		});
	}

	private static boolean pause() {
		try {
			Thread.sleep(100);
			return true;
		}
		catch (InterruptedException ex) {
			Thread.currentThread().interrupt();
			return false;
		}
	}

	/**
	 * Sets what to do each time a heartbeat fails.
	 * @param onRegistryFailed the action, given the failure
	 */
	public void setOnRegistryFailed(Consumer<Throwable> onRegistryFailed) {
		this.onRegistryFailed = onRegistryFailed;
	}

	/**
	 * Sets what to do each time a heartbeat succeeds (other than when the registry is regained, see the constructor):
	 * the registry's store answered, which may be news to those who use the same store.
	 * @param onRegistryAnswered the action
	 */
	public void setOnRegistryAnswered(Runnable onRegistryAnswered) {
		this.onRegistryAnswered = onRegistryAnswered;
	}

	/** Whether the last heartbeat reached the registry. */
	public boolean isHealthy() {
		return !this.failing;
	}

	/** Stops the heartbeat and removes this instance from the registry, so its epoch is dead at once. */
	@Override
	public synchronized void close() {
		if (this.ticks != null) {
			this.ticks.dispose();
			this.ticks = null;
		}
		this.registry.deregister(this.self).onErrorResume((ex) -> Mono.empty()).block(Duration.ofSeconds(5));
	}

}
