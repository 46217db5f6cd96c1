package io.mcp.affinity.core;

import java.net.URI;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatExceptionOfType;
import static org.assertj.core.api.Assertions.assertThatIllegalArgumentException;

class SessionIdTests {

	@Test
	void visibleAsciiIdIsAccepted() {
		assertThat(SessionId.of("a1!~Z-_.:/").value()).isEqualTo("a1!~Z-_.:/");
	}

	@ParameterizedTest
	@ValueSource(strings = { "", "with space", "tab\there", "cr\rlf\n", "nul\u0000", "caf\u00e9", "\u007f" })
	void idWithACharacterOutsideVisibleAsciiIsRejected(String raw) {
		assertThatExceptionOfType(InvalidSessionIdException.class).isThrownBy(() -> SessionId.of(raw));
	}

	@Test
	void overlongIdIsRejected() {
		SessionId.of("x".repeat(SessionId.MAX_LENGTH));
		assertThatExceptionOfType(InvalidSessionIdException.class)
			.isThrownBy(() -> SessionId.of("x".repeat(SessionId.MAX_LENGTH + 1)))
			.withMessageContaining("longer than " + SessionId.MAX_LENGTH);
	}

	@Test
	void toStringIsAStableShortHashThatDoesNotContainTheId() {
		SessionId id = SessionId.of("3f2a9c1e-7b4d-4e8f-a0b1-c2d3e4f5a6b7");
		assertThat(id.toString()).isEqualTo(SessionId.redact(id.value()))
			.doesNotContain("3f2a9c1e")
			.hasSize(17)
			.isNotEqualTo(SessionId.of("3f2a9c1e-7b4d-4e8f-a0b1-c2d3e4f5a6b8").toString());
	}

	@Test
	void instanceAddressIsNormalisedToSchemeHostAndPort() {
		InstanceIdentity identity = InstanceIdentity.create(URI.create("HTTP://10.0.0.7:8080/ignored?x=1"));
		assertThat(identity.address()).isEqualTo(URI.create("http://10.0.0.7:8080"));
		// A decimal number without sign or leading zero, so Redis stores it as an integer.
		assertThat(identity.epoch()).matches("0|[1-9][0-9]{0,18}")
			.isNotEqualTo(InstanceIdentity.create(identity.address()).epoch());
		assertThat(Long.parseLong(identity.epoch())).isNotNegative();
	}

	@ParameterizedTest
	@ValueSource(strings = { "10.0.0.7:8080", "ftp://host:21", "http://host", "http:///path", "http://user:pw@host:80" })
	void unroutableInstanceAddressIsRejected(String address) {
		assertThatIllegalArgumentException().isThrownBy(() -> InstanceIdentity.create(URI.create(address)));
	}

}
