DROP INDEX `messages_idempotency`;--> statement-breakpoint
CREATE UNIQUE INDEX `messages_idempotency` ON `messages` (`app`,`client_message_id`,`conversation_id`,`sender_id`);