package io.mcp.affinity.actuate;

import java.util.EnumMap;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.TimeUnit;

import io.mcp.affinity.web.RoutingObserver;
import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.Timer;

/**
 * Records routing decisions and forwards as Micrometer meters. Meters are registered once, up front: the request path
 * only increments.
 */
public final class MicrometerRoutingObserver implements RoutingObserver {

	/** Counter of requests by decision (tag {@code decision}). */
	public static final String REQUESTS = "mcp.affinity.requests";

	/** Timer of forwards, up to the owner's response headers, by outcome (tag {@code outcome}). */
	public static final String FORWARDS = "mcp.affinity.forwards";

	private final Map<Decision, Counter> decisions = new EnumMap<>(Decision.class);

	private final Map<ForwardOutcome, Timer> forwards = new EnumMap<>(ForwardOutcome.class);

	public MicrometerRoutingObserver(MeterRegistry registry) {
		for (Decision decision : Decision.values()) {
			this.decisions.put(decision, Counter.builder(REQUESTS)
				.description("MCP requests by routing decision")
				.tag("decision", tagValue(decision))
				.register(registry));
		}
		for (ForwardOutcome outcome : ForwardOutcome.values()) {
			this.forwards.put(outcome, Timer.builder(FORWARDS)
				.description("Forwards to the owning instance, timed to its response headers")
				.tag("outcome", tagValue(outcome))
				.register(registry));
		}
	}

	static String tagValue(Enum<?> value) {
		return value.name().toLowerCase(Locale.ROOT).replace('_', '-');
	}

	@Override
	public void routed(Decision decision) {
		this.decisions.get(decision).increment();
	}

	@Override
	public void forwarded(ForwardOutcome outcome, long nanosToHeaders) {
		this.forwards.get(outcome).record(nanosToHeaders, TimeUnit.NANOSECONDS);
	}

}
