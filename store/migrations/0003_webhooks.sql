CREATE TABLE `conversation_events` (
	`id` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
	`app` text NOT NULL,
	`conversation_id` text NOT NULL,
	`after_seq` integer NOT NULL,
	`type` text NOT NULL,
	`data` text DEFAULT '{}' NOT NULL,
	`at` text NOT NULL
);
--> statement-breakpoint
CREATE INDEX `conversation_events_by_conversation` ON `conversation_events` (`app`,`conversation_id`,`id`);--> statement-breakpoint
CREATE TABLE `webhook_cursors` (
	`app` text NOT NULL,
	`endpoint_id` text NOT NULL,
	`conversation_id` text NOT NULL,
	`last_seq` integer DEFAULT 0 NOT NULL,
	`last_event` integer DEFAULT 0 NOT NULL,
	`failing_since` text,
	`last_error` text,
	PRIMARY KEY(`app`, `endpoint_id`, `conversation_id`)
);
--> statement-breakpoint
CREATE TABLE `webhook_endpoints` (
	`app` text NOT NULL,
	`id` text NOT NULL,
	`url` text NOT NULL,
	`secret` text NOT NULL,
	`events` text DEFAULT '[]' NOT NULL,
	`status` text DEFAULT 'active' NOT NULL,
	`last_error` text,
	`failing_since` text,
	`created_at` text NOT NULL,
	PRIMARY KEY(`app`, `id`)
);
--> statement-breakpoint
ALTER TABLE `messages` ADD `recipients` text;--> statement-breakpoint
ALTER TABLE `messages` ADD `rewritten` integer DEFAULT 0 NOT NULL;