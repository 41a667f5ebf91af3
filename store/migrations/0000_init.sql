CREATE TABLE `conversations` (
	`app` text NOT NULL,
	`id` text NOT NULL,
	`title` text,
	`last_seq` integer DEFAULT 0 NOT NULL,
	`created_at` text NOT NULL,
	`last_activity_at` text NOT NULL,
	PRIMARY KEY(`app`, `id`)
);
--> statement-breakpoint
CREATE TABLE `members` (
	`app` text NOT NULL,
	`conversation_id` text NOT NULL,
	`user_id` text NOT NULL,
	`last_read_seq` integer DEFAULT 0 NOT NULL,
	`joined_at` text NOT NULL,
	PRIMARY KEY(`app`, `conversation_id`, `user_id`)
);
--> statement-breakpoint
CREATE INDEX `members_by_user` ON `members` (`app`,`user_id`);--> statement-breakpoint
CREATE TABLE `messages` (
	`app` text NOT NULL,
	`conversation_id` text NOT NULL,
	`seq` integer NOT NULL,
	`id` text NOT NULL,
	`sender_id` text NOT NULL,
	`client_message_id` text NOT NULL,
	`body` text NOT NULL,
	`meta` text,
	`created_at` text NOT NULL,
	PRIMARY KEY(`app`, `conversation_id`, `seq`)
);
--> statement-breakpoint
CREATE UNIQUE INDEX `messages_idempotency` ON `messages` (`app`,`conversation_id`,`sender_id`,`client_message_id`);