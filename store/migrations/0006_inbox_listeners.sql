CREATE TABLE `inbox_listeners` (
	`app` text NOT NULL,
	`user_id` text NOT NULL,
	`since` text NOT NULL,
	PRIMARY KEY(`app`, `user_id`)
);
