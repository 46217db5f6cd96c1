package io.mcp.affinity.web;

import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.ZoneOffset;

import org.junit.jupiter.api.Test;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatIllegalArgumentException;

class ForwardSignatureTests {

	private static final String SECRET = "a-long-shared-secret";

	private final Clock clock = Clock.fixed(Instant.parse("2026-11-25T12:00:00Z"), ZoneOffset.UTC);

	private final ForwardSignature signature = new ForwardSignature(SECRET, null, Duration.ofSeconds(30), this.clock);

	private final String signed = this.signature.sign("POST", "/mcp?x=1", "session-1", "epoch-a");

	@Test
	void aSignatureHoldsForExactlyWhatWasSigned() {
		assertThat(this.signature.rejection(this.signed, "POST", "/mcp?x=1", "session-1", "epoch-a")).isNull();
		assertThat(this.signature.rejection(this.signed, "GET", "/mcp?x=1", "session-1", "epoch-a"))
			.isEqualTo("bad signature");
		assertThat(this.signature.rejection(this.signed, "POST", "/mcp?x=2", "session-1", "epoch-a"))
			.isEqualTo("bad signature");
		assertThat(this.signature.rejection(this.signed, "POST", "/mcp?x=1", "session-2", "epoch-a"))
			.isEqualTo("bad signature");
		assertThat(this.signature.rejection(this.signed, "POST", "/mcp?x=1", "session-1", "epoch-b"))
			.isEqualTo("bad signature");
	}

	@Test
	void anotherSecretDoesNotVerifyButAPreviousSecretStillDoesDuringRotation() {
		ForwardSignature other = new ForwardSignature("another-long-secret!", null, Duration.ofSeconds(30), this.clock);
		assertThat(other.rejection(this.signed, "POST", "/mcp?x=1", "session-1", "epoch-a")).isEqualTo("bad signature");
		ForwardSignature rotated = new ForwardSignature("the-new-long-secret!", SECRET, Duration.ofSeconds(30),
				this.clock);
		assertThat(rotated.rejection(this.signed, "POST", "/mcp?x=1", "session-1", "epoch-a")).isNull();
	}

	@Test
	void anOldOrMissingOrMalformedSignatureIsRejected() {
		ForwardSignature later = new ForwardSignature(SECRET, null, Duration.ofSeconds(30),
				Clock.offset(this.clock, Duration.ofSeconds(31)));
		assertThat(later.rejection(this.signed, "POST", "/mcp?x=1", "session-1", "epoch-a"))
			.isEqualTo("signature too old");
		assertThat(this.signature.rejection(null, "POST", "/mcp", "s", "e")).isEqualTo("unsigned");
		assertThat(this.signature.rejection("garbage", "POST", "/mcp", "s", "e")).isEqualTo("malformed signature");
		assertThat(this.signature.rejection("t=abc,s=xyz", "POST", "/mcp", "s", "e")).isEqualTo("malformed signature");
	}

	@Test
	void aShortSecretIsRefused() {
		assertThatIllegalArgumentException()
			.isThrownBy(() -> new ForwardSignature("short", null, Duration.ofSeconds(30), this.clock))
			.withMessageContaining("16 characters");
	}

}
